/** Test support for the pure state machine: feeds events through `transition` and keeps every step. */
import { initialState, transition, type Event, type State, type Step } from './state.js';

/** Runs `events` from `from`; returns the last step plus all of them, in order. */
export function run(events: readonly Event[], from: State = initialState()): Step & { all: Step[] } {
  let step: Step = { state: from, effects: [] };
  const all: Step[] = [];
  for (const ev of events) {
    step = transition(step.state, ev);
    all.push(step);
  }
  return { ...step, all };
}
