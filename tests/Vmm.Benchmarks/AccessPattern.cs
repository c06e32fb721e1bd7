using Vmm.Abstractions;

namespace Vmm.Benchmarks;

/// <summary>Which pages one invocation's accesses land on.</summary>
public enum AccessPattern
{
    /// <summary>32 consecutive pages: they fit the 64-entry direct-mapped TLB, so every host access hits.</summary>
    TlbHit,
    /// <summary>4096 pages visited 8 pages apart: each access evicts its TLB slot's last page, so every host access walks the 4 levels.</summary>
    FullWalk,
}

internal static class AccessPatterns
{
    /// <summary>Accesses per benchmark invocation (BenchmarkDotNet's OperationsPerInvoke).</summary>
    public const int AccessesPerInvoke = 4096;

    /// <summary>8 pages plus 8 bytes: consecutive accesses land on different pages and offsets, always 8-byte aligned within a page.</summary>
    private const ulong Stride = 4097 * 8;

    public static int Pages(AccessPattern pattern) => pattern == AccessPattern.TlbHit ? 32 : 4096;

    /// <summary>Byte offsets into the working set, one per access.</summary>
    public static ulong[] Offsets(AccessPattern pattern)
    {
        var workingSet = (ulong)Pages(pattern) * PageGeometry.PageSize;
        var offsets = new ulong[AccessesPerInvoke];
        for (var i = 0; i < offsets.Length; i++) offsets[i] = (ulong)i * Stride % workingSet;
        return offsets;
    }
}
