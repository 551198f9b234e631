/**
 * The areas of `dicomflow serve`, in the order the server tries them: DICOMweb under /dicomweb first, then the study
 * browser and the viewer. One list, so the command and the tests mount the same site.
 */
import type { Handler } from './http';
import { dicomwebHandler } from './dicomweb';
import { browserHandler } from './browser';
import { viewerHandler } from './viewer';

export const serveHandlers: Handler[] = [dicomwebHandler, browserHandler, viewerHandler];
