/** Pure policy arithmetic: the autoscaler, the restarter/replacer and the failure detector. */
export {
  AUTOSCALER_DEFAULTS,
  MAX_WINDOW_ENTRIES,
  autoscalerConfig,
  decide,
  recommend,
  type AutoscalerConfig,
  type AutoscalerDecision,
  type Recommendation,
} from './autoscaler';
export {
  MAX_FAILURE_HISTORY,
  RECOVERY_DEFAULTS,
  backoffDelayMs,
  onFailure,
  recoveryConfig,
  type FailureHistory,
  type RecoveryAction,
  type RecoveryConfig,
} from './restarter';
export { formatDurationMs, formatMetric } from './format';
export {
  DETECTOR_DEFAULTS,
  MAX_DETECTOR_LOOKS,
  failureDetectorConfig,
  judge,
  type DetectorVerdict,
  type FailureDetectorConfig,
  type InstanceObservation,
} from './detector';
