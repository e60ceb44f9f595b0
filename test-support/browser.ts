import type { Browser, LaunchOptions } from 'playwright-core';
import { requireProgram } from './processes';

/** Flags that let Debian's Chromium run headless as root with a fake camera and microphone. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync',
  '--disable-background-networking', '--disable-component-update',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

export async function launchChromium(extraArgs: string[] = [], opts: LaunchOptions = {}): Promise<Browser> {
  const executablePath = requireProgram('chromium', 'chromium');
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs], ...opts });
}
