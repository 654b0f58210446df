#!/usr/bin/env node
// First, before any collection can free the tick object's shape: see core/tick-shape.ts.
import '../core/tick-shape.ts';
import module from 'node:module';

// Node caches compiled code on disk (in the OS temp folder). It is turned on before anything else is imported
// (static imports would all load first), so that every module of a later start-up comes from the cache.
module.enableCompileCache?.();
await import('./cli.ts');
