namespace Vmm.Abstractions;

/// <summary>Sizes of the x86-64 paging units the simulator models.</summary>
public static class PageGeometry
{
    public const int PageShift = 12;
    public const int PageSize = 1 << PageShift;
    public const int HugeShift = 21;
    public const ulong HugeSize = 1UL << HugeShift;
    public const int PagesPerHuge = 1 << (HugeShift - PageShift);
    public const int LineShift = 6;
    public const int LineSize = 1 << LineShift;
    public const int LinesPerPage = PageSize / LineSize;
}

/// <summary>Host physical frame number.</summary>
public readonly record struct Pfn(ulong Value) : IComparable<Pfn>
{
    public static readonly Pfn Invalid = new(ulong.MaxValue);
    public bool IsValid => Value != ulong.MaxValue;
    public ulong PhysicalAddress => Value << PageGeometry.PageShift;
    public Pfn Add(long frames) => new((ulong)((long)Value + frames));
    public int CompareTo(Pfn other) => Value.CompareTo(other.Value);
    public static bool operator <(Pfn a, Pfn b) => a.Value < b.Value;
    public static bool operator >(Pfn a, Pfn b) => a.Value > b.Value;
    public static bool operator <=(Pfn a, Pfn b) => a.Value <= b.Value;
    public static bool operator >=(Pfn a, Pfn b) => a.Value >= b.Value;
    public override string ToString() => $"pfn 0x{Value:x}";
}

/// <summary>Guest frame number.</summary>
public readonly record struct Gfn(ulong Value)
{
    public Gpa ToGpa() => new(Value << PageGeometry.PageShift);
    public override string ToString() => $"gfn 0x{Value:x}";
}

/// <summary>Guest physical address.</summary>
public readonly record struct Gpa(ulong Value)
{
    public Gfn Gfn => new(Value >> PageGeometry.PageShift);
    public int PageOffset => (int)(Value & (PageGeometry.PageSize - 1));
    public Gpa PageAligned => new(Value & ~(ulong)(PageGeometry.PageSize - 1));
    public Gpa Add(ulong bytes) => new(Value + bytes);
    public override string ToString() => $"0x{Value:x}";
}

/// <summary>Host virtual address in a host process (the VMM).</summary>
public readonly record struct Hva(ulong Value)
{
    public int PageOffset => (int)(Value & (PageGeometry.PageSize - 1));
    public Hva PageAligned => new(Value & ~(ulong)(PageGeometry.PageSize - 1));
    public Hva HugeAligned => new(Value & ~(PageGeometry.HugeSize - 1));
    public Hva Add(ulong bytes) => new(Value + bytes);
    public override string ToString() => $"0x{Value:x}";
}

/// <summary>A memory-encryption KeyID carried in the top bits of a physical address (0 = the shared/TME key).</summary>
public readonly record struct KeyId(ushort Value)
{
    public static readonly KeyId Shared = new(0);
    public bool IsShared => Value == 0;
    public override string ToString() => $"keyid {Value}";
}

/// <summary>Identifier of a simulated VM (index into the machine's VM table).</summary>
public readonly record struct VmId(int Value)
{
    public static readonly VmId None = new(-1);
    public bool IsNone => Value < 0;
    public override string ToString() => IsNone ? "no vm" : $"vm#{Value}";
}
