"""Stage 8: the model in a web page. `charkeras web` writes a static site (the page in `static/`,
the export's card, a batch-1 static-shape `model_web.tflite` and the LiteRT.js runtime files
vendored from npm) and can serve it on 127.0.0.1. `site.build_site` is the entry; `server` serves a
built site."""
