// tsc does not copy plain .js sources; the generated protobuf codecs are copied into dist/ after the build.
import { cpSync } from 'node:fs';
cpSync('src/extproc/gen', 'dist/extproc/gen', { recursive: true });
