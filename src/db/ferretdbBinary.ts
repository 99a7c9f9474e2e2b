/** `npm run build:ferretdb`: builds the FerretDB launcher now rather than at first start. */
import { ensureLauncherBuilt } from './embedded/ferretdbLauncher.ts';

console.log(`FerretDB launcher: ${await ensureLauncherBuilt()}`);
