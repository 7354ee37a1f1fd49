"""Table models of the inventory application."""

from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel


class Item(SQLModel, table=True):
    __tablename__ = "items"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(80), nullable=False))
    quantity: int = Field(default=0, sa_column=Column(Integer, nullable=False))
