#!/usr/bin/env node
// Entry point of the `lathe` command; the compiled CLI lives in dist/ (built by `npm ci`).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
