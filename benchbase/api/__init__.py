"""What plugins hand over to benchbase (the registered objects) and the checks on them."""
