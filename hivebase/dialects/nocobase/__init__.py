"""NocoBase's dialect: its error shape, resource actions, associations, collections and query entry points."""
