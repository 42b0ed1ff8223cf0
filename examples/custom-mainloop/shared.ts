// What the compositor and its clients agree on: one service, one command, one event.
export const SERVICE = 'compositor';
/** Request: "submit my layer"; the answer is the number of the frame that will show it. */
export const SUBMIT = 0;
/** Event: frame N was presented (payload: N as a uint32). */
export const PRESENTED = 1;
/** Each client submits this many layers, one per presented frame it sees. */
export const SUBMITS = 30;
