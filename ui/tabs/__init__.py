"""One module or package per studio tab: a build_<tab>_tab() that lays out and wires components, and plain
handler functions (api_url, token, inputs) -> outputs that can be tested without a browser. Event handlers
return {component: update}, so no output is known by its position."""
