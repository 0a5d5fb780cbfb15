// lt.nn: modules, layers, initialisers, activations.
export { Module } from './module.js';
export { Layer, type LayerOptions } from './layer.js';
export * from './layers/index.js';
export { initialize, INITIALIZER_NAMES } from './init.js';
export { ACTIVATION_NAMES } from './activations.js';
