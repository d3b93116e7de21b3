"""poster"""
