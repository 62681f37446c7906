"""Geography: coordinate systems, the region hierarchy, point-in-region lookup and map GeoJSON."""
