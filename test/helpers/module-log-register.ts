/** `node --import` entry that installs the module-log hooks (see module-log.ts). */
import { register } from 'node:module';

register(new URL('./module-log.js', import.meta.url));
