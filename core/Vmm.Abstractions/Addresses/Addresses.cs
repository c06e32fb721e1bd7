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

/// <summary>The 64-byte lines a byte range of one page covers: what a memory controller counts and checks per access.</summary>
public static class PageLines
{
    /// <summary>How many lines [<paramref name="offset"/>, offset + <paramref name="length"/>) of a page touches.</summary>
    public static int Count(int offset, int length)
        => length == 0 ? 0 : ((offset + length - 1) >> PageGeometry.LineShift) - (offset >> PageGeometry.LineShift) + 1;

    /// <summary>The first line of the range whose bit is set in <paramref name="mask"/> (bit i = line i), or -1.</summary>
    public static int FirstSet(ulong mask, int offset, int length)
    {
        if (length == 0) return -1;
        var first = offset >> PageGeometry.LineShift;
        var last = (offset + length - 1) >> PageGeometry.LineShift;
        var span = last - first + 1;
        var window = span >= 64 ? ulong.MaxValue : ((1UL << span) - 1) << first;
        var hit = mask & window;
        return hit == 0 ? -1 : System.Numerics.BitOperations.TrailingZeroCount(hit);
    }
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
