print("just some text, no header")
print()
