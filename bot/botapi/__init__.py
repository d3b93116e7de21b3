"""botapi"""
