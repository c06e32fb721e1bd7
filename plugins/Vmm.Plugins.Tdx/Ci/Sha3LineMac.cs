using System.Security.Cryptography;
using Vmm.Abstractions;

namespace Vmm.Plugins.Tdx.Ci;

/// <summary>
/// The MAC after the hardware's construction: SHA-3 based, keyed with the platform MAC key, over the
/// line and the tweak, truncated to 28 bits. Uses KMAC128 (NIST SP 800-185, built on cSHAKE/Keccak)
/// from the platform's crypto library; where that library has no SHA-3, creating it fails with a
/// clear message. Slower than <see cref="AesLineMac"/>; for fidelity checks rather than long runs.
/// </summary>
public sealed class Sha3LineMac : ILineMac
{
    private static readonly byte[] Customization = "TDX Ci line MAC"u8.ToArray();
    private readonly byte[] _key;

    public Sha3LineMac(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!Kmac128.IsSupported)
            throw new ComponentOptionsException(
                "\"sha3\" needs KMAC128 (SHA-3) from the platform's crypto library (OpenSSL 3.0 or later on Linux), which this machine lacks; use \"aes\"",
                "tdx.mac");
        _key = key;
    }

    public static bool IsSupported => Kmac128.IsSupported;

    public string Name => "sha3 (KMAC128)";

    public uint Compute(ReadOnlySpan<byte> line, ulong physicalAddress, KeyId key, bool owner)
    {
        Span<byte> input = stackalloc byte[PageGeometry.LineSize + 16];
        line[..PageGeometry.LineSize].CopyTo(input);
        LineMacs.WriteTweak(input[PageGeometry.LineSize..], physicalAddress, key, owner);
        Span<byte> tag = stackalloc byte[4];
        Kmac128.HashData(_key, input, tag, Customization);
        return BitConverter.ToUInt32(tag) & LineMacs.Mask28;
    }
}
