/** The workflow bundle's entry: every workflow type the Berth worker runs. */
export { deploy } from './deploy';
export { destroy } from './destroy';
export { status } from './status';
