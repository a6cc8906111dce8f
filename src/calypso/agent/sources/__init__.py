"""Source registry: config section name -> factory. Adding a source is one module plus one line here."""
