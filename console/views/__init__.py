"""The console's pages, one module per kind, as datasette's `views/`: each holds the handlers of
its page and of the images and actions that page uses. Every handler derives from
`base.ConsoleHandler` (the token, the headers, errors); `console.app.make_app` maps each URL to
its handler."""
