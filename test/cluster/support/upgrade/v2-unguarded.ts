/** The next release done wrong: the same change without `patched()` (replay must catch it). */
import { upgradeInterceptors } from './v2';

export const interceptors = upgradeInterceptors(false);
