"""crimemap: crime mapping for social services, from open-data sources to privacy-safe layers."""
