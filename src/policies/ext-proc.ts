/**
 * The ext_proc policy seam: one session per HTTP exchange over the processor's shared connection
 * (src/extproc/client.ts). The session implements every SPEC §2 rule; see docs/ext-proc.md.
 */
import { getProcessorClient } from '../extproc/client.js';
import { ExtProcSession } from '../extproc/session.js';
import type { ExtProcStarter } from '../pipeline/policy.js';

/** Starts the ext_proc exchange for one request. */
export const startExtProc: ExtProcStarter = (config, ctx, req) =>
  new ExtProcSession({ config, ctx, req, client: getProcessorClient(config.target) });
