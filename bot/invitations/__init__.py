"""invitations"""
