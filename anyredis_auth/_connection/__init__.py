"""The connection room: opening authenticated sessions and the holders that share them."""
