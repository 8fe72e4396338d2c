"""Each system table family of an app or of the registry, defined once; created and upgraded by the migrations."""
