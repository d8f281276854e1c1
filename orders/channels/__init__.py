"""Sales channels' own formats, one module per kind (shopify, woocommerce, magento, amazon): pure functions from a
channel's order payload to ShopOps's order input (``base.ChannelOrder``), with no database and no network."""
