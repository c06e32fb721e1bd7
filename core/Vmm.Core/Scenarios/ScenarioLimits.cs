using Vmm.Abstractions;

namespace Vmm.Core.Scenarios;

/// <summary>
/// The largest inputs a scenario may ask for, and the arithmetic the parser checks them with. Each limit is
/// where the model stops being honest or the simulator's own memory would grow with the input; the parser
/// rejects anything past them with a <see cref="ScenarioException"/> that names the limit.
/// </summary>
public static class ScenarioLimits
{
    /// <summary>Smallest unit of host and VM memory, and of a backing file: one 4 KiB page.</summary>
    public const ulong PageBytes = PageGeometry.PageSize;

    /// <summary>
    /// Largest <c>host.memory</c>: 64 TiB (2^46 bytes, 2^34 frames). The per-frame tables are flat arrays indexed
    /// by pfn, so a larger host costs simulator memory even when untouched.
    /// </summary>
    public const ulong MaxHostMemory = 64UL << 40;

    /// <summary>Host memory added to the VMs' memory when a scenario does not say <c>host.memory</c> (the engine's default).</summary>
    public const ulong DefaultHostHeadroom = 256UL << 20;

    /// <summary>Where the VMM maps its first VM (README: each VM at the next 1 GiB boundary from here).</summary>
    public const ulong VmmMappingBase = 0x7f0000000000;

    /// <summary>Where x86-64 user space ends (TASK_SIZE with 4-level paging): no VM mapping may reach past it.</summary>
    public const ulong UserSpaceEnd = 0x800000000000;

    /// <summary>The alignment of each VM's mapping in the VMM: 1 GiB.</summary>
    public const ulong VmMappingAlignment = 1UL << 30;

    /// <summary>
    /// Room above <see cref="VmmMappingBase"/>: <see cref="UserSpaceEnd"/> − <see cref="VmmMappingBase"/> = 1 TiB.
    /// VMs that no longer fit there go below the base (<see cref="TryPlaceVmMapping"/>).
    /// </summary>
    public const ulong MaxVmMappingBytes = UserSpaceEnd - VmmMappingBase;

    /// <summary>How far down VMs placed below <see cref="VmmMappingBase"/> may reach: 4 GiB (the program, its heap and mmap_min_addr stay below).</summary>
    public const ulong VmmLowFloor = 1UL << 32;

    /// <summary>
    /// Where the VMM maps a new mapping of <paramref name="bytes"/> at <paramref name="up"/> (from
    /// <see cref="VmmMappingBase"/> upward): there, moving <paramref name="up"/> to the next 1 GiB boundary, when it
    /// ends inside user space; false (mmap's ENOMEM) otherwise, with nothing moved.
    /// </summary>
    public static bool TryPlaceAbove(ref ulong up, ulong bytes, out ulong start)
    {
        start = up;
        if (bytes == 0 || bytes > UserSpaceEnd - up) return false;
        up = (up + bytes + VmMappingAlignment - 1) & ~(VmMappingAlignment - 1);
        return true;
    }

    /// <summary>
    /// Where the VMM maps a VM of <paramref name="bytes"/>, in declaration order: above the base while the VM fits
    /// (<see cref="TryPlaceAbove"/>); a VM that does not fit in what is left of that 1 TiB goes top-down below
    /// <see cref="VmmMappingBase"/>, 1 GiB-aligned under the previous such VM (<paramref name="down"/>, starting at
    /// the base), as Linux's top-down mmap places a large mapping, down to <see cref="VmmLowFloor"/>. The one rule
    /// for the parser and the machine.
    /// </summary>
    public static bool TryPlaceVmMapping(ref ulong up, ref ulong down, ulong bytes, out ulong start)
    {
        if (TryPlaceAbove(ref up, bytes, out start)) return true;
        var rounded = MappingBytes(bytes);
        if (bytes == 0 || down < VmmLowFloor || rounded > down - VmmLowFloor)
        {
            start = 0;
            return false;
        }
        down -= rounded;
        start = down;
        return true;
    }

    /// <summary>
    /// Largest single data value: hex bytes, <c>fill</c> or <c>pattern</c> data, and also the <c>len</c> of a
    /// read (the simulator allocates that buffer): 64 MiB.
    /// </summary>
    public const ulong MaxDataBytes = 64UL << 20;

    /// <summary>All data values of one scenario together (writes and expected data): 256 MiB.</summary>
    public const ulong MaxScenarioDataBytes = 256UL << 20;

    /// <summary>The host memory a scenario gets when it does not say <c>host.memory</c>: its VMs' memory plus <see cref="DefaultHostHeadroom"/>.</summary>
    public static ulong DefaultHostMemory(ulong vmBytes) => SaturatingAdd(vmBytes, DefaultHostHeadroom);

    /// <summary>Host frames the parser checks <c>pfn</c> against: host memory in 4 KiB pages.</summary>
    public static ulong HostFrames(ulong hostBytes) => hostBytes / PageBytes;

    /// <summary>The VMM address space a VM of <paramref name="memory"/> bytes takes: its size rounded up to 1 GiB.</summary>
    public static ulong MappingBytes(ulong memory) =>
        memory > ulong.MaxValue - (VmMappingAlignment - 1) ? ulong.MaxValue : (memory + VmMappingAlignment - 1) & ~(VmMappingAlignment - 1);

    /// <summary>True when [<paramref name="start"/>, <paramref name="start"/> + <paramref name="length"/>) lies inside [0, <paramref name="limit"/>), without wrapping.</summary>
    public static bool Inside(ulong start, ulong length, ulong limit) => start <= limit && length <= limit - start;

    /// <summary><paramref name="a"/> + <paramref name="b"/>, or <see cref="ulong.MaxValue"/> where it would wrap.</summary>
    public static ulong SaturatingAdd(ulong a, ulong b) => a > ulong.MaxValue - b ? ulong.MaxValue : a + b;

    /// <summary>A byte count as a scenario would write it: "64M", "1025G", and hex ("0x400000001000") when no suffix gives a short whole number.</summary>
    public static string Format(ulong bytes)
    {
        if (bytes == 0) return "0";
        foreach (var (suffix, shift) in new[] { ("T", 40), ("G", 30), ("M", 20), ("K", 10) })
            if (bytes % (1UL << shift) == 0 && bytes >> shift < 1UL << 20) return $"{bytes >> shift}{suffix}";
        return $"0x{bytes:x}";
    }
}
