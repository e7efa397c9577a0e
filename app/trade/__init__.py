"""Suppliers, carriers, customers, products and the purchase orders that deliver them."""
