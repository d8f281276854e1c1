"""Every write of shipping, one module per subdomain; import a function from the module that owns it."""
