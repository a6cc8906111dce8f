"""HTTP APIs, one module per API; each exports `routes(state) -> list[Route]`."""
