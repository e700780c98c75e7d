export { parseJUnitFile, JUnitParseError, type JUnitCase, type JUnitFailure, type ParseSummary } from './parse.ts';
export { toTest, identityOf, normalizePath, type JUnitTest } from './convert.ts';
export { uploadJUnit, expandPatterns, EXIT, type UploadOptions, type UploadResult } from './upload.ts';
export { main } from './cli.ts';
