// The build (clients/build.mjs) replaces __RUNLEDGER_VERSION__ with clients/VERSION.
declare const __RUNLEDGER_VERSION__: string | undefined;
export const VERSION: string = typeof __RUNLEDGER_VERSION__ === 'string' ? __RUNLEDGER_VERSION__ : 'dev';
