export declare const CTL: { CMD: 0; SCEN: 1; STOP: 2; STATE: 3; STARTED: 4; ENDED: 5 };
export declare const CTL_WORDS: 6;
export declare const CMD: { NONE: 0; LOOP: 1; ONE: 2; EXIT: 3 };
export declare const STOP: { RUN: 0; GRACEFUL: 1; INTERRUPT: 2 };
export declare const STATE: { IDLE: 0; BUSY: 1 };
export declare const REC: { ITER: 0; SAMPLE: 1; DEF: 2; DONE: 3 };
