/** The next release done right: its new command guarded by `patched()`. */
import { upgradeInterceptors } from './v2';

export const interceptors = upgradeInterceptors(true);
