using Vmm.Abstractions;

namespace Vmm.Plugins.Tdx.KeyIds;

/// <summary>
/// How KeyIDs sit in the physical address (IA32_TME_ACTIVATE.MK_TME_KEYID_BITS): the top
/// <see cref="KeyIdBits"/> bits of a <see cref="PhysicalAddressBits"/>-bit address. KeyID 0 is the TME
/// key; 1 … <see cref="FirstPrivate"/>-1 are shared MKTME keys; the top <see cref="PrivateKeyIds"/>
/// KeyIDs are TDX private keys (IA32_MKTME_KEYID_PARTITIONING), as the hardware partitions them.
/// </summary>
public sealed class KeyIdLayout
{
    /// <param name="section">The options section the values came from ("tdx" or "mktme"), for error messages.</param>
    public KeyIdLayout(int keyIdBits, int privateKeyIds, int physicalAddressBits, string section = "tdx")
    {
        if (Check(keyIdBits, privateKeyIds, physicalAddressBits) is { } bad)
            throw new ComponentOptionsException($"{bad.Option} {bad.Problem}", $"{section}.{bad.Option}");
        var total = 1 << keyIdBits;
        KeyIdBits = keyIdBits;
        PrivateKeyIds = privateKeyIds;
        PhysicalAddressBits = physicalAddressBits;
        KeyIdShift = physicalAddressBits - keyIdBits;
        FirstPrivate = total - privateKeyIds;
    }

    /// <summary>The first value that cannot make a layout, as (option name, what is wrong with it); null when they all can.</summary>
    public static (string Option, string Problem)? Check(int keyIdBits, int privateKeyIds, int physicalAddressBits)
    {
        if (keyIdBits is < 1 or > 15) return ("keyIdBits", $"must be 1..15, not {keyIdBits}");
        if (physicalAddressBits is < 36 or > 52) return ("physicalAddressBits", $"must be 36..52, not {physicalAddressBits}");
        var total = 1 << keyIdBits;
        if (privateKeyIds < 0 || privateKeyIds >= total) return ("privateKeyIds", $"must be 0..{total - 1} with {keyIdBits} KeyID bits, not {privateKeyIds}");
        return null;
    }

    public int KeyIdBits { get; }
    public int PrivateKeyIds { get; }
    public int PhysicalAddressBits { get; }
    /// <summary>Bit position of the lowest KeyID bit in a physical address.</summary>
    public int KeyIdShift { get; }
    /// <summary>The lowest TDX private KeyID.</summary>
    public int FirstPrivate { get; }
    public int KeyIdCount => 1 << KeyIdBits;

    public bool IsPrivate(KeyId key) => key.Value >= FirstPrivate && key.Value < KeyIdCount;

    /// <summary>The physical address the core issues for a line: frame address plus offset, KeyID in the top bits.</summary>
    public ulong Encode(Pfn pfn, int offset, KeyId key) => (pfn.PhysicalAddress + (ulong)offset) | ((ulong)key.Value << KeyIdShift);

    public (Pfn Pfn, int Offset, KeyId Key) Decode(ulong physicalAddress)
    {
        var key = (ushort)(physicalAddress >> KeyIdShift);
        var address = physicalAddress & ((1UL << KeyIdShift) - 1);
        return (new Pfn(address >> PageGeometry.PageShift), (int)(address & (PageGeometry.PageSize - 1)), new KeyId(key));
    }
}

/// <summary>Hands out KeyIDs to VMs from one range, as TDH.MNG.CREATE / the MKTME key programming would.</summary>
internal sealed class KeyIdAllocator
{
    private readonly Dictionary<int, KeyId> _byVm = [];
    private readonly int _first;
    private readonly int _endExclusive;
    private readonly string _option;
    private int _next;

    public KeyIdAllocator(int first, int endExclusive, string option)
    {
        _first = first;
        _endExclusive = endExclusive;
        _option = option;
        _next = first;
    }

    public KeyId Assign(VmId vm)
    {
        if (_byVm.TryGetValue(vm.Value, out var key)) return key;
        if (_next >= _endExclusive)
            throw new ComponentOptionsException($"no KeyID left for another VM: the range {_first}..{_endExclusive - 1} is used up; raise {_option}", _option);
        key = new KeyId((ushort)_next++);
        _byVm[vm.Value] = key;
        return key;
    }
}
