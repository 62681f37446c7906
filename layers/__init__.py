"""Geography: coordinate systems, the city and its region hierarchy, point-in-region lookup, the GeoJSON every map
draws and the screen cells a large point layer is gathered into."""
