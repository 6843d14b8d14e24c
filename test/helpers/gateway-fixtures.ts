/**
 * Repeated integration-test setups: start the servers a test needs plus the gateway (real CLI) in front of
 * them, and register their shutdown with the test, so each test states only its config and its assertions.
 */
import type { TestContext } from 'node:test';
import type OpenAI from 'openai';
import { sdkClient } from './openai-client.js';
import { startOpenAiMock, type OpenAiMock, type OpenAiMockOptions } from './openai-mock.js';
import { startGateway, type StartedGateway } from './start-gateway.js';

/** What `startAiGateway` started. */
export interface AiGateway {
  readonly mock: OpenAiMock;
  readonly gw: StartedGateway;
  /** An SDK client (key `sk-client`) pointed at the gateway's default port. */
  readonly client: OpenAI;
}

/**
 * Starts the OpenAI mock and a gateway running `yaml`, where `{{MOCK}}` is the mock's port (other `vars` and
 * `env` are passed through); both are stopped when the test ends.
 */
export async function startAiGateway(
  t: Pick<TestContext, 'after'>,
  yaml: string,
  opts: { readonly mock?: OpenAiMockOptions; readonly vars?: Record<string, string | number>; readonly env?: Record<string, string> } = {},
): Promise<AiGateway> {
  const mock = await startOpenAiMock(opts.mock);
  t.after(() => mock.close());
  const gw = await startGateway(yaml, { vars: { ...opts.vars, MOCK: mock.port }, ...(opts.env === undefined ? {} : { env: opts.env }) });
  t.after(() => gw.stop());
  return { mock, gw, client: sdkClient(gw.url()) };
}
