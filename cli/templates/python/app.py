"""{{name}}: SQL functions in Python, built into a WebAssembly component by
componentize-py (pg-wasm build). The world is wit/world.wit."""

import wit_world


class WitWorld(wit_world.WitWorld):
    def greet(self, name: str) -> str:
        return f"Hello, {name}!"

    def add(self, a: int, b: int) -> int:
        return a + b
