/**
 * Header injector: the "how it works" flow of external processing. The gateway sends the request headers here,
 * this processor adds `x-ext-proc-injected` (which the backend receives) and, on the way back, adds
 * `x-ext-proc-processed-by` to the response the client gets. Bodies are not sent (see config.yaml).
 *
 * Run: node --import tsx examples/header-injector/index.ts --port 9001
 */
import { headersReply, type ProcessorHandlers } from '../../src/processor/index.js';
import { isMain, serveFromCli } from '../shared/serve.js';

/** The header the backend receives, and its value. */
export const INJECTED = { name: 'x-ext-proc-injected', value: 'hello from the header-injector processor' } as const;
/** The header the client receives on the response. */
export const PROCESSED_BY = { name: 'x-ext-proc-processed-by', value: 'header-injector' } as const;

/** The processor's handlers: one edit per direction, everything else passes through. */
export const headerInjector: ProcessorHandlers = {
  onRequestHeaders: (headers) =>
    headersReply('request', {
      set: {
        [INJECTED.name]: INJECTED.value,
        // Shows that the processor saw the request: the path it was asked about.
        'x-ext-proc-saw-path': headers.get(':path') ?? '',
      },
    }),
  onResponseHeaders: () => headersReply('response', { set: { [PROCESSED_BY.name]: PROCESSED_BY.value } }),
};

if (isMain(import.meta.url)) await serveFromCli('header-injector', headerInjector, 9001);
