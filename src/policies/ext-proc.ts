/**
 * The ext_proc policy seam. Placeholder until the ext_proc client lands: a route that uses extProc must
 * not silently skip it, so every request through it fails with a clear 500 naming the policy.
 */
import { GatewayError } from '../errors.js';
import type { ExtProcStarter } from '../pipeline/policy.js';

export const startExtProc: ExtProcStarter = () => {
  throw new GatewayError('policy_not_implemented', 'policy extProc is not implemented yet');
};
