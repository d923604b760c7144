"""The one layer holding the service's logic: recommend, similar items, audiences, push lists,
segments and profiles. REST routes and the console call it; routes only parse and translate."""
