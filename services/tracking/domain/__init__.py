"""Tracking's pure rules: which observation may change a shipment's status, and how ETAs move."""
