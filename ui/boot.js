// Starts the window's wasm app (kept out of index.html for the content security policy).
import init from './citrus-ui.js';

init();
