"""The operator console: review shared face crops, watch drift and compare, promote and roll back
models in a browser. `maskbot console` serves it; see `console.app`, and the pages in `console.views`."""
