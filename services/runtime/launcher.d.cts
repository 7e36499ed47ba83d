// Types of launcher.cjs (committed plain JavaScript, see there), so that its entry in the package's exports map has
// types like every other entry.
/** Runs the compiled entry `compiled` of `command`, or says how to build it (exit status 1). */
export declare function launch(command: string, compiled: string): void;
