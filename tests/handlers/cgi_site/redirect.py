print("Location: http://example.com/elsewhere")
print()
