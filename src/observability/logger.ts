/**
 * The process logger (pino, JSON lines on stdout). Access logs go through `accessLogger`, everything else
 * through `logger`. Never pass secrets to either: model secrets serialize as "<redacted>".
 */
import { pino } from 'pino';

const level = process.env.TOLLGATE_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info';

/** Operational log (startup, reloads, warnings). */
export const logger = pino({ level, base: { component: 'tollgate' } });

/** Sets the level of the operational logger (from `config.logging.level`). */
export function setLogLevel(l: string): void {
  logger.level = l;
}
